"""vLLM serving: the server with its HPA, the metrics adapter the HPA reads, and weight staging."""
