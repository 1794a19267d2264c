"""Trajectories as the datasets fine-tuning tools read: OpenAI's fine-tuning JSONL,
LLaMA-Factory's ShareGPT layout with its `dataset_info.json` entry, and a Hugging Face
`datasets` folder (`envscale export`)."""
