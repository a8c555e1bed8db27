"""Layouts of real public projects, rebuilt small with synthetic data, for the corpus tests
(``tests/corpus/``). Each module names the project it follows and writes its files into a
directory; docs/architecture.md lists them."""
