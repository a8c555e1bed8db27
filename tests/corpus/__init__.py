"""The corpus: layouts of real public projects (``tests/layouts/``), each taken through init,
run, register, show/graph/impact/diff and reproduce, every answer checked against what the
fixture knows to be true. docs/architecture.md lists them."""
