"""What production code never imports: the traffic simulator, the evaluation, the benchmarks and the local stack."""
