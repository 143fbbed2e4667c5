"""Tests of the gcp backend (infra/backends/gcp/)."""
