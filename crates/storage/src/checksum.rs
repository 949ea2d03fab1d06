//! Adler-32 exactly as `java.util.zip.Adler32`, which both the txn log entries and the snapshot seals
//! use. Java stores the 32-bit value in a `long`, so the upper half is always zero on disk.
//! (`simd-adler32`: snapshot loads checksum hundreds of megabytes, so the SIMD kernels matter.)

/// Adler-32 of `bytes` (the checksum of one txn log entry payload).
pub fn adler32(bytes: &[u8]) -> u32 {
    let mut a = simd_adler32::Adler32::new();
    a.write(bytes);
    a.finish()
}

/// A running Adler-32, like Java's `CheckedInputStream`/`CheckedOutputStream`: it keeps accumulating
/// across snapshot seals, so a later seal covers the earlier ones.
#[derive(Clone, Default)]
pub struct RunningAdler32(simd_adler32::Adler32);

impl std::fmt::Debug for RunningAdler32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RunningAdler32({:#x})", self.value())
    }
}

impl RunningAdler32 {
    /// The checksum of the empty input (1).
    pub fn new() -> Self {
        RunningAdler32(simd_adler32::Adler32::new())
    }

    /// Adds `bytes` to the checksum.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.write(bytes)
    }

    /// The checksum so far, as Java's `getValue()` (an unsigned 32-bit value in a long).
    pub fn value(&self) -> u64 {
        u64::from(self.0.finish())
    }
}
