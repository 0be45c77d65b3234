// Hand-written (not generated): the generated GridsyncError already has a
// `description` (the Rust message, Chinese / English); declaring the
// conformance makes `localizedDescription` and string interpolation use it
// instead of a dump of the enum's fields.

extension GridsyncError: CustomStringConvertible {}
