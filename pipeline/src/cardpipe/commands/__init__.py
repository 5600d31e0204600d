"""One module per `cardpipe` sub-command: argument parsing and progress only; the work lives elsewhere."""
