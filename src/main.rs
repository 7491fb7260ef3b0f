//! forge-top: the read-only live inspector for Forge rings.
#![forbid(unsafe_code)]

fn main() {
    println!("forge-top arrives with the forge-top issue");
}
