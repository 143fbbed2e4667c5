"""Tests of the aws backend (infra/backends/aws/)."""
