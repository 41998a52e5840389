//! Addresses shown on a page are masked: enough to recognise your own, not to learn someone
//! else's from a shared link.

/// `jane@example.com` → `j***@example.com`; `+4917612345678` → `+49 *** *** 78`.
pub fn mask_address(address: &str) -> String {
    let address = address.trim();
    if let Some((local, domain)) = address.rsplit_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let digits: String = address.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 6 {
        return "***".into();
    }
    let last = &digits[digits.len() - 2..];
    if address.starts_with('+') {
        let cc = phonenumber::parse(None, address)
            .map(|n| n.code().value().to_string())
            .unwrap_or_else(|_| digits[..2].to_owned());
        return format!("+{cc} *** *** {last}");
    }
    format!("*** *** {last}")
}
