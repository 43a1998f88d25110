print("RelayBench: not yet")
