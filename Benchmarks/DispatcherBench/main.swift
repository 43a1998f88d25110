print("DispatcherBench: not written yet")
