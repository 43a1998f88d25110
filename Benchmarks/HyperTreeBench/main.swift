print("HyperTreeBench: not written yet")
