"""The answer step and what it uses: the filter chain, the preference policies, generation, the answer form and
comparisons, the reader prompt, one LLM step and the result types. Every mode ends here (step.py)."""
