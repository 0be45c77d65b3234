//! Photo upload benchmark (being written).

fn main() {}
