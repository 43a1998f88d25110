print("SwarmBench: placeholder")
