//! `codegen [--catalog] [--query-ec2|--query-aws] FILE.wsdl`: prints the Rust generated from
//! a WSDL document, so that a reviewer can read exactly what a build compiles; `--catalog`
//! adds the requests' catalog, as `wire`'s build does for every WSDL, `--query-ec2` the EC2
//! Query binding, as for the EC2 WSDLs, `--query-aws` the AWS Query binding, as for
//! `iam.wsdl` and `cloudwatch.wsdl`.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    let catalog = args.first().is_some_and(|flag| flag == "--catalog");
    if catalog {
        args.remove(0);
    }
    let (path, query) = match args.as_slice() {
        [path] => (path, None),
        [flag, path] if flag == "--query-ec2" => (path, Some(codegen::QueryBinding::ec2())),
        [flag, path] if flag == "--query-aws" => (path, Some(codegen::QueryBinding::aws())),
        _ => {
            eprintln!("usage: codegen [--catalog] [--query-ec2|--query-aws] FILE.wsdl");
            return ExitCode::from(2);
        }
    };
    let options = codegen::Options {
        query,
        catalog,
        ..codegen::Options::default()
    };
    let generated = match codegen::generate(Path::new(path), &options) {
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
