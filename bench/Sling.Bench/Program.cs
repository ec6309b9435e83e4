// Benchmarks are added in later work; see README "Measured figures".
return 0;
