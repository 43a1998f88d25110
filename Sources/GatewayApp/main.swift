print("hypertuna-gateway")
