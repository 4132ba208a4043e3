//! `rill call`: the four call types with dynamic messages, JSON in and out.

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::PathBuf;
use std::time::Instant;

use bytes::Bytes;
use prost::Message;
use prost_reflect::{MessageDescriptor, MethodDescriptor};
use rill::{MetadataMap, Request, RequestStream};
use tokio::sync::mpsc;

use crate::error::CliError;
use crate::json::{self, JsonReader, JsonText};
use crate::output::{print_metadata, print_metadata_if, trailers, Printer};
use crate::raw::RawMessage;
use crate::source::Source;

/// Where request JSON comes from.
#[derive(Debug)]
pub(crate) enum Input {
    /// The JSON argument itself.
    Text(String),
    /// `@FILE`.
    File(PathBuf),
    /// `@`, or no argument with stdin not a terminal (or a stream with a terminal stdin).
    Stdin,
    /// No argument, stdin a terminal, a single-request method: the empty message.
    Empty,
}

impl Input {
    /// From the optional JSON argument.
    pub(crate) fn from_arg(arg: Option<String>) -> Input {
        match arg {
            Some(a) if a == "@" => Input::Stdin,
            Some(a) if a.starts_with('@') => Input::File(PathBuf::from(&a[1..])),
            Some(a) => Input::Text(a),
            None if std::io::stdin().is_terminal() => Input::Empty,
            None => Input::Stdin,
        }
    }
}

/// How to call and print.
pub(crate) struct CallOptions {
    pub(crate) metadata: MetadataMap,
    pub(crate) deadline: Option<Instant>,
    pub(crate) emit_defaults: bool,
    pub(crate) pretty: bool,
    pub(crate) verbose: bool,
}

/// The method named `pkg.Svc/Method` (or `pkg.Svc.Method`), loaded through `source`.
pub(crate) async fn find_method(
    source: &mut Source,
    name: &str,
) -> Result<MethodDescriptor, CliError> {
    let name = name.trim_start_matches('/');
    let (service, method) = name
        .rsplit_once('/')
        .or_else(|| name.rsplit_once('.'))
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{name:?} is not a method name like pkg.Service/Method"
            ))
        })?;
    if !source.load_symbol(service).await? || source.pool().get_service_by_name(service).is_none() {
        let known = source.list_services().await.unwrap_or_default();
        return Err(CliError::NotFound(format!(
            "service {service:?} not found (services: {})",
            known.join(", ")
        )));
    }
    let pool = source.pool();
    let Some(svc) = pool.get_service_by_name(service) else {
        return Err(CliError::NotFound(format!("service {service:?} not found")));
    };
    let found = svc.methods().find(|m| m.name() == method);
    found.ok_or_else(|| {
        let names: Vec<String> = svc.methods().map(|m| m.name().to_string()).collect();
        CliError::NotFound(format!(
            "service {service:?} has no method {method:?} (methods: {})",
            names.join(", ")
        ))
    })
}

/// Runs the call; responses go to stdout as they arrive.
pub(crate) async fn call(
    client: &rill::Client,
    source: &mut Source,
    method: &MethodDescriptor,
    input: Input,
    options: &CallOptions,
) -> Result<(), CliError> {
    let result = run(client, source, method, input, options).await;
    if let (true, Err(CliError::Status(status))) = (options.verbose, &result) {
        // A failed call's trailing metadata comes with its status.
        print_metadata("Response trailers received", status.metadata());
    }
    result
}

async fn run(
    client: &rill::Client,
    source: &mut Source,
    method: &MethodDescriptor,
    input: Input,
    options: &CallOptions,
) -> Result<(), CliError> {
    // One call per process: the path lives as long as the process anyway.
    let path: &'static str = Box::leak(
        format!("/{}/{}", method.parent_service().full_name(), method.name()).into_boxed_str(),
    );
    if options.verbose {
        eprintln!("Calling {path} ({})", kind(method));
        print_metadata("Request metadata to send", &options.metadata);
    }
    let mut printer = Printer {
        output: method.output(),
        options,
        count: 0,
    };
    // A stream from a terminal is typed in, one message after another.
    let input = match input {
        Input::Empty if method.is_client_streaming() => Input::Stdin,
        input => input,
    };
    let mut inputs = spawn_reader(input, !method.is_client_streaming());
    let input_desc = method.input();
    if !method.is_client_streaming() {
        let first = match inputs.recv().await {
            Some(text) => Some(text?),
            None => None,
        };
        if let Some(extra) = inputs.recv().await {
            let at = extra.map(|t| format!(" (line {}, column {})", t.line, t.column))?;
            return Err(CliError::Input(format!(
                "{path} takes one request message, the input has more{at}"
            )));
        }
        let message = match first {
            Some(text) => encode(source, &input_desc, &text).await?,
            None => RawMessage::default(),
        };
        let request = request(message, options);
        if method.is_server_streaming() {
            let response = client.server_streaming(path, request).await?;
            print_metadata_if(
                options.verbose,
                "Response headers received",
                response.metadata(),
            );
            let mut stream = response.into_inner();
            while let Some(message) = stream.message().await? {
                printer.print(source, message).await?;
            }
            trailers(options.verbose, &mut stream);
        } else {
            let response = client.unary(path, request).await?;
            print_metadata_if(
                options.verbose,
                "Response headers received",
                response.metadata(),
            );
            print_metadata_if(
                options.verbose,
                "Response trailers received",
                response.trailers(),
            );
            printer.print(source, response.into_inner()).await?;
        }
        printer.done();
        return Ok(());
    }

    // Client and bidi streaming: requests are sent as the input yields them, while responses
    // are printed as they come.
    let (sender, outbound) = mpsc::unbounded_channel::<RawMessage>();
    let mut sender = Some(sender);
    let stream = futures_util::stream::unfold(outbound, |mut rx| async move {
        rx.recv().await.map(|m| (m, rx))
    });
    let mut head = Request::new(stream);
    *head.metadata_mut() = options.metadata.clone();
    head.set_deadline(options.deadline);
    let mut input_open = true;
    if method.is_server_streaming() {
        let call = client.streaming::<RawMessage, RawMessage>(
            path,
            head.map(|s| Box::pin(s) as RequestStream<RawMessage>),
        );
        tokio::pin!(call);
        let response = loop {
            tokio::select! {
                response = &mut call => break response?,
                text = inputs.recv(), if input_open => {
                    feed(source, &input_desc, text, &mut sender, &mut input_open).await?
                }
            }
        };
        print_metadata_if(
            options.verbose,
            "Response headers received",
            response.metadata(),
        );
        let mut stream = response.into_inner();
        loop {
            tokio::select! {
                message = stream.message() => match message? {
                    Some(message) => printer.print(source, message).await?,
                    None => break,
                },
                text = inputs.recv(), if input_open => {
                    feed(source, &input_desc, text, &mut sender, &mut input_open).await?
                }
            }
        }
        trailers(options.verbose, &mut stream);
    } else {
        let call = client.client_streaming::<RawMessage, RawMessage>(
            path,
            head.map(|s| Box::pin(s) as RequestStream<RawMessage>),
        );
        tokio::pin!(call);
        let response = loop {
            tokio::select! {
                response = &mut call => break response?,
                text = inputs.recv(), if input_open => {
                    feed(source, &input_desc, text, &mut sender, &mut input_open).await?
                }
            }
        };
        print_metadata_if(
            options.verbose,
            "Response headers received",
            response.metadata(),
        );
        print_metadata_if(
            options.verbose,
            "Response trailers received",
            response.trailers(),
        );
        printer.print(source, response.into_inner()).await?;
    }
    printer.done();
    Ok(())
}

fn kind(method: &MethodDescriptor) -> &'static str {
    match (method.is_client_streaming(), method.is_server_streaming()) {
        (false, false) => "unary",
        (false, true) => "server streaming",
        (true, false) => "client streaming",
        (true, true) => "bidirectional streaming",
    }
}

fn request(message: RawMessage, options: &CallOptions) -> Request<RawMessage> {
    let mut request = Request::new(message);
    *request.metadata_mut() = options.metadata.clone();
    request.set_deadline(options.deadline);
    request
}

/// Sends the next input message, or closes the request stream at the end of the input.
async fn feed(
    source: &mut Source,
    desc: &MessageDescriptor,
    text: Option<Result<JsonText, CliError>>,
    sender: &mut Option<mpsc::UnboundedSender<RawMessage>>,
    open: &mut bool,
) -> Result<(), CliError> {
    match text {
        Some(text) => {
            let message = encode(source, desc, &text?).await?;
            if let Some(sender) = sender {
                // The call is over if this fails: its outcome is reported by the call itself.
                let _ = sender.send(message);
            }
        }
        None => {
            *open = false;
            *sender = None;
        }
    }
    Ok(())
}

/// JSON → message bytes, resolving `Any` types through `source` first.
async fn encode(
    source: &mut Source,
    desc: &MessageDescriptor,
    text: &JsonText,
) -> Result<RawMessage, CliError> {
    let types = json::any_types_in_json(text);
    let mut desc = desc.clone();
    if !types.is_empty() {
        // The types may have been loaded for an earlier message: use the latest pool.
        source.load_types(&types).await?;
        if let Some(fresh) = source.pool().get_message_by_name(desc.full_name()) {
            desc = fresh;
        }
    }
    let message = json::to_message(text, &desc)?;
    Ok(RawMessage(Bytes::from(message.encode_to_vec())))
}

/// Reads request JSON values on a thread (stdin blocks); `single` stops after two values.
fn spawn_reader(input: Input, single: bool) -> mpsc::UnboundedReceiver<Result<JsonText, CliError>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let reader: Option<(Box<dyn BufRead + Send>, String)> = match input {
        Input::Text(text) => Some((
            Box::new(std::io::Cursor::new(text.into_bytes())),
            "the JSON argument".into(),
        )),
        Input::File(path) => match std::fs::File::open(&path) {
            Ok(file) => Some((Box::new(BufReader::new(file)), path.display().to_string())),
            Err(e) => {
                let _ = tx.send(Err(CliError::Input(format!(
                    "cannot read {}: {e}",
                    path.display()
                ))));
                None
            }
        },
        Input::Stdin => Some((Box::new(BufReader::new(std::io::stdin())), "stdin".into())),
        Input::Empty => None,
    };
    if let Some((reader, name)) = reader {
        // Not a tokio blocking task: the process may exit while this thread waits on stdin.
        std::thread::spawn(move || {
            let mut seen = 0;
            for value in JsonReader::new(reader, name) {
                let failed = value.is_err();
                if tx.send(value).is_err() || failed {
                    break;
                }
                seen += 1;
                if single && seen == 2 {
                    break;
                }
            }
        });
    }
    rx
}
