//! Order statistics over samples.

pub fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(|a, b| a.total_cmp(b));
    s
}

/// Quantile by linear interpolation between closest ranks; `q` in [0, 1].
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

pub fn median(v: &[f64]) -> Option<f64> {
    quantile(&sorted(v), 0.5)
}

#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub max: f64,
}

pub fn summary(v: &[f64]) -> Option<Summary> {
    let s = sorted(v);
    Some(Summary {
        n: s.len(),
        min: *s.first()?,
        q1: quantile(&s, 0.25)?,
        median: quantile(&s, 0.5)?,
        q3: quantile(&s, 0.75)?,
        max: *s.last()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn quartiles_interpolate() {
        let s = sorted(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(quantile(&s, 0.25), Some(2.0));
        assert_eq!(quantile(&s, 1.0), Some(5.0));
    }
}
