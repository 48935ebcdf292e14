"""memkit benchmarks (`make bench`). Each module measures one part's budgets (docs/) and returns rows."""
