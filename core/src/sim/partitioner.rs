//! Kafka's default partitioner for keyed records, bit for bit.
//!
//! The Java producer sends a record with a key to
//! `toPositive(murmur2(keyBytes)) % numPartitions` (`BuiltInPartitioner.partitionForKey`,
//! formerly `DefaultPartitioner`). librdkafka's `murmur2_random` partitioner computes
//! the same hash and the same modulo, so when the bridge produces with
//! `partitioner=murmur2_random` its keys land on the partitions the simulator shows.
//! (librdkafka's own default, `consistent_random`, hashes with CRC32 and would not.)

use super::SimError;

/// Kafka's `Utils.murmur2`: the 32-bit MurmurHash2 with seed `0x9747b28c`, read as a
/// Java `int`.
///
/// Java has no unsigned integers, so Kafka's version computes in wrapping signed
/// arithmetic with logical shifts (`>>>`). Doing the same in `u32` with wrapping
/// multiplication gives the same bits; the result is reinterpreted, not converted, as
/// an `i32`, so it can be negative exactly where Java's is.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java computes `seed ^ length` with an int length; keys longer than 2 GiB cannot
    // occur in a record, and truncating like Java's int would is what Kafka does.
    let mut h: u32 = SEED ^ (data.len() as u32);

    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        // Little-endian, as Kafka assembles `data[i] & 0xff` + `data[i+1] << 8` + ...
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }

    // The tail: Kafka's switch falls through from case 3 to case 1, and only case 1
    // multiplies, so a tail of any length is mixed once.
    let tail = blocks.remainder();
    if !tail.is_empty() {
        if tail.len() == 3 {
            h ^= u32::from(tail[2]) << 16;
        }
        if tail.len() >= 2 {
            h ^= u32::from(tail[1]) << 8;
        }
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit. Unlike `abs`, it cannot overflow
/// on `i32::MIN` (which becomes 0), and it is what makes the modulo non-negative.
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition the Java producer (and librdkafka's `murmur2_random`) picks for a
/// record with this key: `toPositive(murmur2(key)) % num_partitions`.
///
/// An empty key is a key: it hashes like any other byte string. Only a missing key
/// (`None` on the record) is partitioned differently, see [`super::SimTopic::produce`].
pub fn partition_for_key(key: &[u8], num_partitions: i32) -> Result<i32, SimError> {
    if num_partitions <= 0 {
        return Err(SimError::BadPartitionCount(num_partitions));
    }
    Ok(to_positive(murmur2(key)) % num_partitions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_hash(key: &str, expected: i32) {
        assert_eq!(murmur2(key.as_bytes()), expected, "murmur2({key:?})");
    }

    /// The vectors of the Java client's `UtilsTest.testMurmur2`.
    #[test]
    fn murmur2_matches_the_java_client() {
        check_hash("21", -973932308);
        check_hash("foobar", -790332482);
        check_hash("a-little-bit-long-string", -985981536);
        check_hash("a-little-bit-longer-string", -1486304829);
        check_hash(
            "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58897971,
        );
        check_hash("abc", 479470107);
    }

    fn check_positive(n: i32, expected: i32) {
        assert_eq!(to_positive(n), expected, "to_positive({n})");
    }

    #[test]
    fn to_positive_clears_the_sign_bit() {
        check_positive(0, 0);
        check_positive(42, 42);
        check_positive(-1, i32::MAX);
        check_positive(i32::MIN, 0);
        check_positive(-973932308, 1173551340);
    }

    fn check_partition(key: &str, partitions: i32, expected: Result<i32, SimError>) {
        assert_eq!(
            partition_for_key(key.as_bytes(), partitions),
            expected,
            "partition_for_key({key:?}, {partitions})"
        );
    }

    #[test]
    fn keys_map_to_partitions_like_the_java_producer() {
        // toPositive(-973932308) == 1173551340; % 3 == 0, % 7 == 3.
        check_partition("21", 3, Ok(0));
        check_partition("21", 7, Ok(3));
        // toPositive(-790332482) == 1357151166; % 4 == 2, % 5 == 1.
        check_partition("foobar", 4, Ok(2));
        check_partition("foobar", 5, Ok(1));
        // 479470107 is positive already; % 4 == 3, % 7 == 4.
        check_partition("abc", 4, Ok(3));
        check_partition("abc", 7, Ok(4));
        check_partition("abc", 1, Ok(0));
        check_partition("abc", 0, Err(SimError::BadPartitionCount(0)));
        check_partition("abc", -3, Err(SimError::BadPartitionCount(-3)));
    }
}
