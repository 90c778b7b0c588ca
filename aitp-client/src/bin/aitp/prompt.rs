//! Asking a person: arrow-key menus, checkboxes and validated inputs in a terminal
//! (`inquire`), numbered lines read from stdin otherwise, so scripts and pipes keep working.
//!
//! Every prompt returns [`Stop`] when the person leaves: `/quit` typed at any prompt, Esc in a
//! terminal menu, the end of the input, or Ctrl-C.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use inquire::{
    Confirm, InquireError, MultiSelect, Select, Text,
    list_option::ListOption,
    validator::{ErrorMessage, Validation},
};

/// What ends a prompt without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `/quit`, or Esc in a menu.
    Quit,
    /// The input ended.
    End,
    /// Ctrl-C.
    Interrupted,
}

/// An answer, or why there is none.
pub(crate) type Answer<T> = Result<T, Stop>;

/// What the person types to leave from any prompt.
pub(crate) const QUIT: &str = "/quit";

/// How to ask: in a terminal with menus, or with plain lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prompter {
    /// Arrow keys, space to tick, validation as you type.
    Terminal,
    /// One answer a line on stdin.
    Plain,
}

impl Prompter {
    /// Menus when stdin and stdout are a terminal (and `plain` is not asked for).
    pub(crate) fn detect(plain: bool) -> Self {
        if !plain && std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
            Self::Terminal
        } else {
            Self::Plain
        }
    }

    /// One line of free text (the chat's own prompt): `/quit` and the end of input stop.
    pub(crate) fn line(&self, prompt: &str) -> Answer<String> {
        let line = match self {
            Self::Terminal => stop_on(Text::new(prompt.trim_end()).prompt())?,
            Self::Plain => read_line(prompt)?,
        };
        if line.trim() == QUIT {
            return Err(Stop::Quit);
        }
        Ok(line.trim().to_owned())
    }

    /// One of `options`; the index chosen.
    pub(crate) fn select(&self, title: &str, options: &[String]) -> Answer<usize> {
        match self {
            Self::Terminal => {
                let choices: Vec<Choice> = numbered(options);
                let chosen = Select::new(title, choices)
                    .with_formatter(&|c| c.value.short().to_owned())
                    .with_help_message("↑↓ move, enter choose, type to filter, esc quit")
                    .with_page_size(options.len().clamp(1, 12))
                    .prompt();
                stop_on(chosen).map(|c| c.0)
            }
            Self::Plain => {
                print_options(title, options);
                loop {
                    let line = read_line(&format!("Choose 1-{}: ", options.len()))?;
                    match parse_choices(&line, options.len(), false) {
                        Ok(mut v) => return Ok(v.remove(0)),
                        Err(why) => println!("{why}"),
                    }
                }
            }
        }
    }

    /// Any number of `options`, at least `min` (and at most `max`); the indexes chosen.
    pub(crate) fn multi_select(
        &self,
        title: &str,
        options: &[String],
        min: usize,
        max: Option<usize>,
    ) -> Answer<Vec<usize>> {
        let bounds = move |n: usize| -> Result<(), String> {
            if n < min {
                Err(format!("Choose at least {min}."))
            } else if max.is_some_and(|m| n > m) {
                Err(format!("Choose at most {}.", max.unwrap_or(n)))
            } else {
                Ok(())
            }
        };
        match self {
            Self::Terminal => {
                let choices: Vec<Choice> = numbered(options);
                let chosen = MultiSelect::new(title, choices)
                    .with_formatter(&|cs| {
                        let names: Vec<&str> = cs.iter().map(|c| c.value.short()).collect();
                        names.join(", ")
                    })
                    .with_help_message("↑↓ move, space tick, enter done, esc quit")
                    .with_page_size(options.len().clamp(1, 12))
                    .with_validator(move |picked: &[ListOption<&Choice>]| {
                        Ok(match bounds(picked.len()) {
                            Ok(()) => Validation::Valid,
                            Err(e) => Validation::Invalid(ErrorMessage::Custom(e)),
                        })
                    })
                    .prompt();
                stop_on(chosen).map(|v| v.into_iter().map(|c| c.0).collect())
            }
            Self::Plain => {
                print_options(title, options);
                loop {
                    let line = read_line(&format!(
                        "Choose 1-{} (several: comma-separated): ",
                        options.len()
                    ))?;
                    match parse_choices(&line, options.len(), true)
                        .and_then(|v| bounds(v.len()).map(|()| v))
                    {
                        Ok(v) => return Ok(v),
                        Err(why) => println!("{why}"),
                    }
                }
            }
        }
    }

    /// A typed value, checked by `check` as it is typed (an empty answer takes `default`,
    /// when there is one).
    pub(crate) fn input<F>(
        &self,
        label: &str,
        default: Option<&str>,
        help: Option<&str>,
        check: F,
    ) -> Answer<String>
    where
        F: Fn(&str) -> Result<(), String> + Clone + 'static,
    {
        let with_default = |v: String| match (v.trim().is_empty(), default) {
            (true, Some(d)) => d.to_owned(),
            _ => v.trim().to_owned(),
        };
        match self {
            Self::Terminal => {
                let validate = move |v: &str| {
                    let v = v.trim();
                    Ok(match check(v) {
                        _ if v == QUIT => Validation::Valid,
                        Ok(()) => Validation::Valid,
                        Err(e) => Validation::Invalid(ErrorMessage::Custom(e)),
                    })
                };
                let mut text = Text::new(label).with_validator(validate);
                if let Some(d) = default {
                    text = text.with_default(d);
                }
                if let Some(h) = help {
                    text = text.with_help_message(h);
                }
                let v = stop_on(text.prompt())?;
                if v.trim() == QUIT {
                    return Err(Stop::Quit);
                }
                Ok(with_default(v))
            }
            Self::Plain => loop {
                let shown = default.map(|d| format!(" [{d}]")).unwrap_or_default();
                let v = with_default(read_line(&format!("{label}{shown}: "))?);
                match check(&v) {
                    Ok(()) => return Ok(v),
                    Err(why) => println!("  ✗ {why}"),
                }
            },
        }
    }

    /// Yes or no; `default` on an empty answer.
    pub(crate) fn confirm(&self, question: &str, default: bool) -> Answer<bool> {
        match self {
            Self::Terminal => stop_on(Confirm::new(question).with_default(default).prompt()),
            Self::Plain => loop {
                let hint = if default { "[Y/n]" } else { "[y/N]" };
                let v = read_line(&format!("{question} {hint} "))?;
                match v.trim().to_ascii_lowercase().as_str() {
                    "" => return Ok(default),
                    "y" | "yes" => return Ok(true),
                    "n" | "no" => return Ok(false),
                    QUIT => return Err(Stop::Quit),
                    _ => println!("Please answer y or n."),
                }
            },
        }
    }
}

/// An option of a terminal menu: its index, and how it reads.
#[derive(Debug, Clone)]
struct Choice(usize, String);

impl Choice {
    /// How the option reads once chosen: without its description.
    fn short(&self) -> &str {
        self.1.split(" — ").next().unwrap_or(&self.1).trim_end()
    }
}

impl std::fmt::Display for Choice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

fn numbered(options: &[String]) -> Vec<Choice> {
    options
        .iter()
        .enumerate()
        .map(|(i, o)| Choice(i, o.clone()))
        .collect()
}

fn stop_on<T>(r: Result<T, InquireError>) -> Answer<T> {
    match r {
        Ok(v) => Ok(v),
        Err(InquireError::OperationCanceled) => Err(Stop::Quit),
        Err(InquireError::OperationInterrupted) => Err(Stop::Interrupted),
        Err(_) => Err(Stop::End),
    }
}

fn print_options(title: &str, options: &[String]) {
    println!("{title}");
    for (i, o) in options.iter().enumerate() {
        println!("  {}) {o}", i + 1);
    }
}

/// Reads a line after printing `prompt`; `/quit` and the end of input stop.
fn read_line(prompt: &str) -> Answer<String> {
    print!("{prompt}");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => Err(Stop::End),
        Ok(_) if line.trim() == QUIT => Err(Stop::Quit),
        Ok(_) => Ok(line.trim().to_owned()),
    }
}

/// Option numbers (1-based, comma- or space-separated) as indexes; `Err` says what is wrong
/// in words (an out-of-range number names the range).
fn parse_choices(line: &str, count: usize, many: bool) -> Result<Vec<usize>, String> {
    let mut picked = Vec::new();
    for part in line.split([',', ' ']).filter(|p| !p.trim().is_empty()) {
        let n: usize = part.trim().parse().map_err(|_| {
            format!(
                "{:?} is not an option number: enter 1 to {count}.",
                part.trim()
            )
        })?;
        if !(1..=count).contains(&n) {
            return Err(format!("There is no option {n}: enter 1 to {count}."));
        }
        if !picked.contains(&(n - 1)) {
            picked.push(n - 1);
        }
    }
    match (picked.len(), many) {
        (0, _) => Err(format!("Enter an option number, 1 to {count}.")),
        (1, false) | (_, true) => Ok(picked),
        (_, false) => Err("Choose only one option.".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_choices;

    #[test]
    fn choices_in_words() {
        assert_eq!(parse_choices("2", 4, false), Ok(vec![1]));
        assert_eq!(parse_choices("1, 3 3", 4, true), Ok(vec![0, 2]));
        assert_eq!(
            parse_choices("9", 4, true),
            Err("There is no option 9: enter 1 to 4.".to_owned())
        );
        assert_eq!(
            parse_choices("socks", 4, false),
            Err("\"socks\" is not an option number: enter 1 to 4.".to_owned())
        );
        assert_eq!(
            parse_choices("1,2", 4, false),
            Err("Choose only one option.".to_owned())
        );
        assert!(parse_choices("", 4, false).is_err());
    }
}
