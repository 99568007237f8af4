fn main() {
    println!("migration-sim: not built yet");
}
