"""One module per subcommand; each exposes a plain function the CLI and tests call directly."""
