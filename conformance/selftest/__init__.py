"""The self-test's independent implementation (mini/) and its one-bug
mutants (docs/conformance.md, "Self-test (mutation testing)")."""
