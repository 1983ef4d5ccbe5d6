//! `marathon`: parses flags, binds the listener, runs Marathon until Ctrl-C.
fn main() {
    eprintln!("marathon: not yet runnable");
    std::process::exit(1);
}
