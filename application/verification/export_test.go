package verification

// Subject is what a verification link or code of u is issued for, for the
// tests that issue secrets of other flows for the very same subject.
var Subject = subject
