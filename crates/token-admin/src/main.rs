//! token-admin

fn main() {}
