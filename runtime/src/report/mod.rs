//! Score aggregation over runs: performance profiles, AUP, ranks, tables.
