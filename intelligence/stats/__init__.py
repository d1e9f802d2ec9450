"""Statistics for experiments: confidence intervals and a sequential test. Pure Python."""
