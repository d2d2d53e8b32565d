//! scim-api

fn main() {}
