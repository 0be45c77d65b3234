//! A small `multipart/form-data` reader for the web forms that carry a
//! file: the confirmation of a step with a photo (处置, 反馈, 核查), and
//! the upload of a ledger to import (`web/import`). The
//! whole body is already in memory (bounded by the server's body limit);
//! this splits it into its named parts. Nothing else of RFC 7578 is needed
//! by a browser's form post: no nested parts, no transfer encodings.

/// One field of the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The field's name.
    pub name: String,
    /// The file's name, for a file field.
    pub filename: Option<String>,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type, if it is one.
pub fn boundary(content_type: &str) -> Option<String> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("boundary"))
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty() && b.len() <= 70)
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    (from..=hay.len() - needle.len())
        .find(|&i| hay[i] == first && hay[i..i + needle.len()] == *needle)
}

/// A parameter (`name="…"`) of a `Content-Disposition` header.
fn param(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(key)).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The parts of `body`, or why it is not a well-formed form.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, &'static str> {
    let delimiter = format!("--{boundary}").into_bytes();
    let next_delimiter = format!("\r\n--{boundary}").into_bytes();
    let mut at = find(body, &delimiter, 0).ok_or("表单格式错误：缺少分隔符")? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Ok(parts);
        }
        if body.get(at..at + 2) != Some(b"\r\n") {
            return Err("表单格式错误");
        }
        at += 2;
        let head_end = find(body, b"\r\n\r\n", at).ok_or("表单格式错误：缺少字段头")?;
        let head = std::str::from_utf8(&body[at..head_end]).map_err(|_| "表单格式错误")?;
        let disposition = head
            .split("\r\n")
            .find_map(|line| {
                let (k, v) = line.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-disposition")
                    .then_some(v)
            })
            .ok_or("表单格式错误：缺少字段名")?;
        let name = param(disposition, "name").ok_or("表单格式错误：缺少字段名")?;
        let filename = param(disposition, "filename");
        let data_start = head_end + 4;
        let data_end = find(body, &next_delimiter, data_start).ok_or("表单格式错误：字段未结束")?;
        parts.push(Part {
            name,
            filename,
            data: body[data_start..data_end].to_vec(),
        });
        at = data_end + next_delimiter.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_form_with_a_file_reads_back() {
        let b = "----WebKitFormBoundaryabc";
        let body = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n已处置\r\n\
             --{b}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\n\
             Content-Type: image/jpeg\r\n\r\n\u{1}\r\n--x\r\n--{b}--\r\n"
        );
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={b}")).as_deref(),
            Some(b)
        );
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        let parts = parse(body.as_bytes(), b).unwrap_or_default();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "note");
        assert_eq!(parts[0].data, "已处置".as_bytes());
        assert_eq!(parts[1].filename.as_deref(), Some("a.jpg"));
        assert_eq!(parts[1].data, b"\x01\r\n--x");
        assert!(parse(b"garbage", b).is_err());
        let cut = &body.as_bytes()[..body.len() - 20];
        assert!(parse(cut, b).is_err());
    }
}
