//! Item 3 of issue #14 names `copy_file_range`/`sendfile` as a lever for minidcache's p2p
//! "where the checksum allows". minidcache checks every copy's ADLER32, so the bytes have to
//! reach user space anyway. This benchmark measures, on the machine's own disk, whether
//! letting the kernel copy them and then reading the copy back for its sum beats what p2p
//! does: read each buffer once, add it to the sum, write it.
//!
//! Both ways copy the same freshly written files (in the page cache), alternating round by
//! round, with a `sync` outside the timed part so that one way's dirty pages are not written
//! back on the other's time. `sendfile` is not measured apart: on a file system without
//! reflinks (ext4) it and `copy_file_range` are the same in-kernel splice.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use minidcache::adler32::Adler32;
use minidcache::p2p::copy_with_checksum;
use minidcache::repository::checksum_file;

use crate::Options;
use crate::start::{data_dir, print_where_files_are};
use crate::table::{Row, Target};
use crate::throughput::median;

/// One way of copying a file and summing its bytes; returns the ADLER32 as dCache prints it.
type Copier = fn(&Path, &Path, u64) -> std::io::Result<String>;

/// What minidcache's p2p does: one pass, read → ADLER32 → write.
fn read_sum_write(source: &Path, target: &Path, size: u64) -> std::io::Result<String> {
    let (mut input, mut output) = (File::open(source)?, File::create(target)?);
    let (sum, _) = copy_with_checksum(&mut input, size, &mut output, &AtomicBool::new(false))
        .map_err(|f| std::io::Error::other(format!("{f:?}")))?;
    Ok(sum.hex())
}

/// The kernel copies (`std::io::copy` between two files is `copy_file_range` on Linux), then
/// the copy is read back for its ADLER32, as minidcache's checksum verification reads it.
fn kernel_copy_then_read(source: &Path, target: &Path, _size: u64) -> std::io::Result<String> {
    let (mut input, mut output) = (File::open(source)?, File::create(target)?);
    std::io::copy(&mut input, &mut output)?;
    drop(output);
    checksum_file(target).map(|(sum, _)| sum)
}

/// MB/s of copying every file of `sources` into `targets` with `copier`; the copies are
/// removed afterwards. Every copy's sum must be `expected`.
fn timed(copier: Copier, sources: &[PathBuf], targets: &Path, size: u64, expected: &str) -> f64 {
    let _ = Command::new("sync").status();
    let start = Instant::now();
    for (i, source) in sources.iter().enumerate() {
        let sum = copier(source, &targets.join(i.to_string()), size).expect("the copy works");
        assert_eq!(sum, expected, "the copy of {} has the source's ADLER32", source.display());
    }
    let seconds = start.elapsed().as_secs_f64();
    for i in 0..sources.len() {
        let _ = std::fs::remove_file(targets.join(i.to_string()));
    }
    (sources.len() as u64 * size) as f64 / seconds / 1e6
}

/// Runs the comparison.
pub fn run(options: &Options, rows: &mut Vec<Row>) {
    let (files, rounds) = if options.quick { (16, 1) } else { (256, 9) };
    let size: u64 = 1 << 20;
    let root = data_dir().join("copy");
    let _ = std::fs::remove_dir_all(&root);
    let (sources_dir, targets) = (root.join("source"), root.join("target"));
    std::fs::create_dir_all(&sources_dir).and_then(|()| std::fs::create_dir_all(&targets)).expect("bench directories");
    let data: Vec<u8> = (0..size).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut expected = Adler32::new();
    expected.update(&data);
    let sources: Vec<PathBuf> = (0..files)
        .map(|i| {
            let path = sources_dir.join(i.to_string());
            std::fs::write(&path, &data).expect("a source file can be written");
            path
        })
        .collect();
    println!("copying a replica's bytes with its ADLER32, {files} × 1 MiB, {rounds} rounds in turn, MB/s:");
    print_where_files_are();
    let ways: [(&str, Copier); 2] =
        [("read, sum, write (p2p)", read_sum_write), ("copy_file_range, read back", kernel_copy_then_read)];
    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 1..=rounds {
        for (i, (name, copier)) in ways.iter().enumerate() {
            let rate = timed(*copier, &sources, &targets, size, &expected.hex());
            println!("  round {round}: {name:28} {rate:7.0}");
            rates[i].push(rate);
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    // Slow spells of the disk fall on both ways of a round alike, so the ratio is taken per
    // round and its median reported.
    let ratios: Vec<f64> = rates[1].iter().zip(&rates[0]).map(|(kernel, p2p)| kernel / p2p).collect();
    let ratio = median(&ratios);
    let [p2p, kernel] = rates.map(|r| median(&r));
    println!("  medians: {p2p:.0} and {kernel:.0} MB/s; per round, copy_file_range ÷ p2p: median {ratio:.2}");
    rows.push(Row::new("copy", "1 MiB files: read, sum and write (minidcache's p2p)", p2p, "MB/s", Target::None));
    rows.push(Row::new(
        "copy",
        "1 MiB files: copy_file_range, then read back for the sum ÷ read, sum and write (median per round)",
        ratio,
        "×",
        Target::None,
    ));
}
