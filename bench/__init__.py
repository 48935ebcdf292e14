"""memkit benchmarks (`make bench`). Each module measures one issue's budgets and returns rows."""
