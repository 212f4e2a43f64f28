//! `@pathelement(Element,index)`: one `/`-separated component of a path
//! held in an element; negative indexes count from the end, and an index
//! out of range (or not a number) gives the whole value.

use super::hashname::java_split;

pub fn path_element(path: &str, index: &str) -> String {
    let parts = java_split(path, '/');
    let mut i = index.trim().parse::<i64>().unwrap_or(1000);
    if i < 0 {
        i += parts.len() as i64;
    }
    if i >= 0 && (i as usize) < parts.len() {
        parts[i as usize].to_string()
    } else {
        path.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_from_either_end() {
        assert_eq!(path_element("/a/b/c", "1"), "a");
        assert_eq!(path_element("/a/b/c", "-1"), "c");
        assert_eq!(path_element("/a/b/c", "9"), "/a/b/c");
    }
}
