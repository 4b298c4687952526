"""modelyard's benchmarks: each module measures one capability against its peers in one run."""
