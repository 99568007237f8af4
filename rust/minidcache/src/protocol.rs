//! How a read reached the pool, as `get` and `debug readers` describe it
//! (`-protocol=DCap/3 -client=10.0.0.7`): the migration module's [`ProtocolInfo`], from which
//! hot-file replication derives dCache's protocol unit (`DCap/3`, `NFS/4.1`; `*/*` without a
//! protocol) and net unit (the client's address; empty without one).

use std::net::IpAddr;

use migration_core::hotfile::ProtocolInfo;
use migration_core::syntax::ParsedArgs;
use migration_core::{Error, ErrorKind};

/// `<protocol>/<major>[.<minor>]`, as dCache names protocol units: `DCap/3`, `xrootd/2`,
/// `NFS/4.1`.
pub fn parse(text: &str) -> Result<ProtocolInfo, Error> {
    let bad = || Error::syntax(format!("Invalid protocol: {text} (expected <protocol>/<major>[.<minor>])"));
    let (protocol, version) = text.split_once('/').ok_or_else(bad)?;
    let word = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if !word(protocol) {
        return Err(bad());
    }
    let number = |t: &str| t.parse::<u32>().ok().filter(|_| t.bytes().all(|b| b.is_ascii_digit()));
    let (major, minor) = match version.split_once('.') {
        Some((major, minor)) => (number(major).ok_or_else(bad)?, number(minor).ok_or_else(bad)?),
        None => (number(version).ok_or_else(bad)?, 0),
    };
    Ok(ProtocolInfo { protocol: protocol.to_string(), major, minor, client: None })
}

/// A client address, in the canonical text form the net unit takes.
pub fn parse_client(text: &str) -> Result<String, Error> {
    text.parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| Error::syntax(format!("Invalid client address: {text} (expected an IP address)")))
}

/// The read's protocol from `-protocol` and `-client`; `None` without `-protocol`. A client
/// address comes with a protocol in dCache (it is part of the protocol info), so `-client`
/// alone is refused.
pub fn from_options(args: &ParsedArgs) -> Result<Option<ProtocolInfo>, Error> {
    let client = args.string("client").map(parse_client).transpose()?;
    match args.string("protocol") {
        Some(text) => {
            let mut info = parse(text)?;
            info.client = client;
            Ok(Some(info))
        }
        None if client.is_some() => Err(Error::new(
            ErrorKind::InvalidArgument,
            "-client needs -protocol: the address is part of the protocol info",
        )),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_give_dcache_units() {
        for (text, unit) in
            [("DCap/3", "DCap/3"), ("xrootd/2", "xrootd/2"), ("NFS/4.1", "NFS/4.1"), ("Http/1.0", "Http/1")]
        {
            assert_eq!(parse(text).expect(text).unit(), unit);
        }
        for bad in ["DCap", "/3", "DCap/", "DCap/x", "DCap/3.", "DCap/-1", "a b/1", "DCap/3.1.2"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn clients_are_ip_addresses_in_canonical_form() {
        assert_eq!(parse_client("10.0.0.7").expect("v4"), "10.0.0.7");
        assert_eq!(parse_client("2001:DB8::1").expect("v6"), "2001:db8::1");
        assert!(parse_client("host.example.org").is_err());
    }
}
