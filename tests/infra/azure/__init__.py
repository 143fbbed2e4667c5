"""Tests of the azure backend (infra/backends/azure/)."""
