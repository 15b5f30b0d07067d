//! A project's segments and groups, checked together: references resolved, cycles refused,
//! shared leaves computed once, and an evaluation order in which every segment comes after the
//! segments it refers to.

use crate::ast::Expr;
use crate::check::{Checker, Leaves};
use crate::ir::{Leaf, Node};
use crate::span::{ErrorKind, RuleError};
use crate::types::Catalog;
use crate::{parser, print};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// A segment as the user defined it.
#[derive(Debug, Clone, Default)]
pub struct SegmentDef {
    pub name: String,
    pub rule: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
}

/// An ordered, mutually exclusive group of segments: a customer gets the first that holds.
#[derive(Debug, Clone, Default)]
pub struct GroupDef {
    pub name: String,
    pub segments: Vec<String>,
    pub description: Option<String>,
}

/// A checked segment.
#[derive(Debug, Clone)]
pub struct Segment {
    pub def: SegmentDef,
    pub ast: Expr,
    pub node: Node,
    /// The rule in normal form; its hash is the version.
    pub normal: String,
    /// First 12 hex digits of SHA-256 over the normal form.
    pub version: String,
    /// Segments this one refers to.
    pub refs: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub def: GroupDef,
    /// Indices of the member segments, in priority order.
    pub members: Vec<usize>,
    pub version: String,
}

/// The segments and groups of a project, ready to evaluate.
#[derive(Debug, Clone)]
pub struct SegmentSet {
    pub catalog: Catalog,
    pub segments: Vec<Segment>,
    pub groups: Vec<Group>,
    pub leaves: Vec<Leaf>,
    /// Segment indices such that each comes after those it refers to.
    pub order: Vec<usize>,
}

/// A mistake in one definition.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DefError {
    #[error("segments.{segment}.rule: {}", error.render(text))]
    Rule {
        segment: String,
        text: String,
        error: RuleError,
    },
    #[error("groups.{group}: {message}")]
    Group { group: String, message: String },
}

impl SegmentSet {
    /// Parses and checks every definition; returns every mistake found, in definition order.
    pub fn compile(
        catalog: Catalog,
        defs: Vec<SegmentDef>,
        groups: Vec<GroupDef>,
    ) -> Result<SegmentSet, Vec<DefError>> {
        let names: Vec<String> = defs.iter().map(|d| d.name.clone()).collect();
        let mut leaves = Leaves::default();
        let mut errors = Vec::new();
        let mut segments = Vec::new();
        let mut ref_spans = Vec::new();
        for def in defs {
            let rule_error = |error: RuleError| DefError::Rule {
                segment: def.name.clone(),
                text: def.rule.clone(),
                error,
            };
            let ast = match parser::parse(&def.rule) {
                Ok(a) => a,
                Err(e) => {
                    errors.push(rule_error(e));
                    continue;
                }
            };
            let mut checker = Checker {
                catalog: &catalog,
                segments: &names,
                leaves: &mut leaves,
                refs: Vec::new(),
            };
            match checker.check(&ast) {
                Ok(node) => {
                    let normal = print::normal_form(&ast);
                    let refs = checker.refs.iter().map(|r| r.0).collect();
                    ref_spans.push(checker.refs);
                    segments.push(Segment {
                        version: version(&normal),
                        normal,
                        refs,
                        ast,
                        node,
                        def,
                    });
                }
                Err(e) => errors.push(rule_error(e)),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let order = match topo_order(&segments) {
            Ok(o) => o,
            Err(cycle) => {
                let first = cycle[0];
                let span = ref_spans[first]
                    .iter()
                    .find(|r| r.0 == cycle[1 % cycle.len()])
                    .map(|r| r.1)
                    .unwrap_or_default();
                let path: Vec<&str> = cycle
                    .iter()
                    .chain(std::iter::once(&first))
                    .map(|&i| segments[i].def.name.as_str())
                    .collect();
                return Err(vec![DefError::Rule {
                    segment: segments[first].def.name.clone(),
                    text: segments[first].def.rule.clone(),
                    error: RuleError::new(
                        ErrorKind::Cycle,
                        span,
                        format!(
                            "segments refer to each other in a cycle: {}",
                            path.join(" -> ")
                        ),
                    ),
                }]);
            }
        };
        let groups = groups
            .into_iter()
            .map(|def| group(def, &segments))
            .collect::<Result<Vec<_>, DefError>>()
            .map_err(|e| vec![e])?;
        Ok(SegmentSet {
            catalog,
            segments,
            groups,
            leaves: leaves.list,
            order,
        })
    }

    pub fn segment(&self, name: &str) -> Option<usize> {
        self.segments.iter().position(|s| s.def.name == name)
    }

    /// Names of all segments, in definition order.
    pub fn names(&self) -> Vec<&str> {
        self.segments.iter().map(|s| s.def.name.as_str()).collect()
    }

    /// `i` and every segment it depends on, dependencies first.
    pub fn closure(&self, i: usize) -> Vec<usize> {
        let mut need = vec![false; self.segments.len()];
        let mut stack = vec![i];
        while let Some(s) = stack.pop() {
            if !need[s] {
                need[s] = true;
                stack.extend(&self.segments[s].refs);
            }
        }
        self.order.iter().copied().filter(|&s| need[s]).collect()
    }

    /// Indices of the leaves a segment's rule uses directly.
    pub fn leaves_of(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        crate::ir::visit_leaves(&self.segments[i].node, &mut |l| {
            if !out.contains(&l) {
                out.push(l)
            }
        });
        out
    }
}

fn group(def: GroupDef, segments: &[Segment]) -> Result<Group, DefError> {
    let mut members = Vec::new();
    let mut text = String::new();
    for name in &def.segments {
        let Some(i) = segments.iter().position(|s| s.def.name == *name) else {
            return Err(DefError::Group {
                group: def.name.clone(),
                message: format!("unknown segment \"{name}\""),
            });
        };
        members.push(i);
        text.push_str(&format!("{name}@{}\n", segments[i].version));
    }
    Ok(Group {
        version: version(&text),
        def,
        members,
    })
}

/// First 12 hex digits of SHA-256.
pub fn version(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Dependencies first; on a cycle, the segments on it.
fn topo_order(segments: &[Segment]) -> Result<Vec<usize>, Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        i: usize,
        segments: &[Segment],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        out: &mut Vec<usize>,
    ) -> Result<(), Vec<usize>> {
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::Open => {
                let at = path.iter().position(|&p| p == i).unwrap_or(0);
                return Err(path[at..].to_vec());
            }
            Mark::New => {}
        }
        marks[i] = Mark::Open;
        path.push(i);
        for &r in &segments[i].refs {
            visit(r, segments, marks, path, out)?;
        }
        path.pop();
        marks[i] = Mark::Done;
        out.push(i);
        Ok(())
    }
    let mut marks = vec![Mark::New; segments.len()];
    let mut out = Vec::new();
    for i in 0..segments.len() {
        visit(i, segments, &mut marks, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}
