use std::process::ExitCode;

fn main() -> ExitCode {
    freshtoken::main()
}
