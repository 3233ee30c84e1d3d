//! `codegen FILE.wsdl`: prints the Rust generated from a WSDL document, so that a reviewer
//! can read exactly what a build compiles.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let [path] = args.as_slice() else {
        eprintln!("usage: codegen FILE.wsdl");
        return ExitCode::from(2);
    };
    let generated = match codegen::generate_file(Path::new(path)) {
        Ok(generated) => generated,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    match std::io::stdout()
        .lock()
        .write_all(generated.code.as_bytes())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cannot write the generated code: {error}");
            ExitCode::FAILURE
        }
    }
}
