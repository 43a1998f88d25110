print("HyperLogBench: not written yet")
