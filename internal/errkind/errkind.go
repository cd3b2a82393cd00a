// Package errkind holds the error type that exportkit's packages return
// when an error must match sentinels (exportkit.ErrInvalidInput, …) with
// errors.Is without repeating their "exportkit: " prefix in its message.
package errkind

// Error matches sentinels with errors.Is through its Is method, not by
// wrapping them, so that its message does not repeat their prefix. It may
// wrap a cause for errors.As (an *exportkit.APIError, say) whose text it
// does not repeat either.
type Error struct {
	Msg   string  // the whole message
	Kinds []error // the sentinels errors.Is matches
	Cause error   // what Unwrap returns; may be nil
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the cause, for errors.As.
func (e *Error) Unwrap() error { return e.Cause }

// Is matches each of the error's sentinels.
func (e *Error) Is(target error) bool {
	for _, k := range e.Kinds {
		if target == k {
			return true
		}
	}
	return false
}
