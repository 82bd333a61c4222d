//! Criterion benchmarks of OrgStore's own operations (filled in by the benchmark issue).

fn main() {}
