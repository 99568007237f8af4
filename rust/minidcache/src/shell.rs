//! The admin shell: dCache's conventions (`\l`, `\c <cell>`, `\q`, the prompt
//! `(<cell>) admin > `), reading from a terminal (line editing and history), from a pipe or
//! from a script. The top level is the `(local)` cell, whose commands (`dcache start|stop`)
//! are in [`crate::local_cell`].
//!
//! Without a terminal every command is echoed after its prompt, before its output, so that a
//! transcript reads like a session in dCache's Book. At a terminal, long commands (`wait`)
//! show a progress line that is redrawn in place.

use std::io::{self, BufRead, Write};
use std::path::Path;

use migration_core::{Error, ErrorKind};

use crate::cluster::Cluster;
use crate::commands::{self, Cell, Progress};

/// The cell name of the top level.
pub const TOP_LEVEL: &str = "local";

/// How the shell reads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A person at a terminal: prompt before each line, no echo.
    Interactive,
    /// A pipe or a script: each command echoed after its prompt.
    Echo,
}

/// What one input line did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// An empty line or a comment: nothing to echo or print.
    Skipped,
    /// The command ran; its output (empty, or ending with a newline).
    Output(String),
    /// `\q` at the top level.
    Quit,
}

/// The shell, over a cluster.
pub struct Shell {
    cluster: Cluster,
    cell: Option<Cell>,
}

impl Shell {
    /// A shell at the top level.
    pub fn new(cluster: Cluster) -> Shell {
        Shell { cluster, cell: None }
    }

    /// The cluster the shell drives.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The current cell, `None` at the top level.
    pub fn cell(&self) -> Option<&Cell> {
        self.cell.as_ref()
    }

    /// `(<cell>) admin > `.
    pub fn prompt(&self) -> String {
        format!("({}) admin > ", self.cell.as_ref().map_or(TOP_LEVEL, Cell::name))
    }

    /// Every cell, in `\l` order: the running pools, then the services.
    pub fn cells(&self) -> Vec<Cell> {
        let running = |name: &String| self.cluster.pool(name).is_some_and(|p| p.is_running());
        let mut cells: Vec<Cell> = self.cluster.pool_names().into_iter().filter(running).map(Cell::Pool).collect();
        cells.extend([Cell::PoolManager, Cell::PinManager, Cell::PnfsManager]);
        cells
    }

    fn find_cell(&self, name: &str) -> Option<Cell> {
        // `pool1@poolDomain` names the same cell: there is one domain.
        let name = name.split_once('@').map_or(name, |(cell, _)| cell);
        self.cells().into_iter().find(|c| c.name() == name)
    }

    /// Runs one input line.
    pub fn execute(&mut self, line: &str) -> Reply {
        self.execute_with_progress(line, None)
    }

    /// Runs one input line; a long command reports its progress to `progress`.
    pub fn execute_with_progress(&mut self, line: &str, progress: Progress<'_>) -> Reply {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Reply::Skipped;
        }
        match self.dispatch(line, progress) {
            Ok(None) => Reply::Quit,
            Ok(Some(output)) => Reply::Output(terminated(output)),
            Err(error) => Reply::Output(terminated(render_error(&error))),
        }
    }

    /// `Ok(None)` means quit.
    fn dispatch(&mut self, line: &str, progress: Progress<'_>) -> Result<Option<String>, Error> {
        let (word, rest) = line.split_once(char::is_whitespace).map_or((line, ""), |(w, r)| (w, r.trim()));
        match word {
            "\\l" => Ok(Some(self.cells().iter().map(|c| format!("{}\n", c.name())).collect())),
            "\\c" => {
                if rest.is_empty() {
                    return Err(Error::syntax("\\c <cell>"));
                }
                let cell = self.find_cell(rest).ok_or_else(|| {
                    let name = rest.split_once('@').map_or(rest, |(cell, _)| cell);
                    match self.cluster.pool(name) {
                        Some(_) => commands::stopped(name),
                        None => Error::new(ErrorKind::NotFound, format!("Cell not found: {rest}")),
                    }
                })?;
                self.cell = Some(cell);
                Ok(Some(String::new()))
            }
            "\\q" => match self.cell.take() {
                Some(_) => Ok(Some(String::new())),
                None => Ok(None),
            },
            _ => match &self.cell {
                Some(cell) => guarded(|| commands::execute(&self.cluster, cell, line, progress)).map(Some),
                None => guarded(|| crate::local_cell::execute(&self.cluster, line)).map(Some),
            },
        }
    }

    /// Runs lines from `input` until it ends or `\q` at the top level, writing to `out`.
    pub fn run(&mut self, input: impl BufRead, mut out: impl Write, mode: Mode) -> io::Result<()> {
        let mut lines = input.lines();
        loop {
            if mode == Mode::Interactive {
                write!(out, "{}", self.prompt())?;
                out.flush()?;
            }
            let Some(line) = lines.next() else {
                if mode == Mode::Interactive {
                    writeln!(out)?;
                }
                return Ok(());
            };
            let line = line?;
            let prompt = self.prompt();
            match self.execute(&line) {
                Reply::Skipped => {}
                Reply::Quit => {
                    if mode == Mode::Echo {
                        writeln!(out, "{prompt}{}", line.trim())?;
                    }
                    return Ok(());
                }
                Reply::Output(text) => {
                    if mode == Mode::Echo {
                        writeln!(out, "{prompt}{}", line.trim())?;
                    }
                    out.write_all(text.as_bytes())?;
                }
            }
            out.flush()?;
        }
    }

    /// Runs the shell at a terminal: line editing, history in `history` (kept between
    /// sessions), and a progress line for long commands.
    pub fn run_terminal(&mut self, history: &Path) -> io::Result<()> {
        use rustyline::error::ReadlineError;
        let mut editor = rustyline::DefaultEditor::new().map_err(io::Error::other)?;
        // A missing history file is the normal case on a new home.
        let _ = editor.load_history(history);
        let mut stdout = io::stdout();
        let result = loop {
            let prompt = self.prompt();
            let line = match editor.readline(&prompt) {
                Ok(line) => line,
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break Ok(()),
                Err(e) => break Err(io::Error::other(e)),
            };
            if !line.trim().is_empty() {
                let _ = editor.add_history_entry(line.as_str());
            }
            let mut drew = false;
            let mut show = |text: &str| {
                // Carriage return and erase-line: the line is redrawn in place.
                let _ = write!(io::stdout(), "\r\x1b[2K{text}");
                let _ = io::stdout().flush();
                drew = true;
            };
            let reply = self.execute_with_progress(&line, Some(&mut show));
            if drew {
                write!(stdout, "\r\x1b[2K")?;
            }
            match reply {
                Reply::Skipped => {}
                Reply::Quit => break Ok(()),
                Reply::Output(text) => stdout.write_all(text.as_bytes())?,
            }
            stdout.flush()?;
        };
        if let Err(e) = editor.save_history(history) {
            eprintln!("minidcache: cannot save the history in {}: {e}", history.display());
        }
        result
    }

    /// Runs a script in [`Mode::Echo`] and returns the transcript.
    pub fn run_script(&mut self, script: &str) -> String {
        let mut out = Vec::new();
        self.run(script.as_bytes(), &mut out, Mode::Echo).expect("writing to memory cannot fail");
        String::from_utf8(out).expect("the shell writes UTF-8")
    }
}

/// Runs a command so that a panic (a bug in a command or in the core) is reported as an
/// internal error instead of ending the session.
fn guarded(command: impl FnOnce() -> Result<String, Error>) -> Result<String, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(command)).unwrap_or_else(|panic| {
        let text = migration_core::error::panic_message(&*panic).unwrap_or("unknown panic");
        Err(Error::new(ErrorKind::Internal, format!("Internal error: {text}")))
    })
}

/// `Syntax error: <msg>` for syntax errors, the message otherwise.
pub fn render_error(error: &Error) -> String {
    match error.kind {
        ErrorKind::Syntax => format!("Syntax error: {}", error.message),
        _ => error.message.clone(),
    }
}

fn terminated(mut text: String) -> String {
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}
