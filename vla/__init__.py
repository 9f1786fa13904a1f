"""Vision-language-action models: fine-tuning, evaluation, export."""
