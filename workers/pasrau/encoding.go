package pasrau

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Encoding names the character encoding a declaration file is declared in.
type Encoding int

const (
	// UTF8 is a file in UTF-8. A leading byte order mark is tolerated and
	// dropped by ToLatin1.
	UTF8 Encoding = iota + 1
	// Latin1 is a file in ISO-8859-1, the encoding PASRAU requires on deposit.
	Latin1
)

// String returns "UTF-8", "ISO-8859-1" or "Encoding(n)".
func (e Encoding) String() string {
	switch e {
	case UTF8:
		return "UTF-8"
	case Latin1:
		return "ISO-8859-1"
	default:
		return fmt.Sprintf("Encoding(%d)", int(e))
	}
}

// ErrNotLatin1 is matched (errors.Is) by every *EncodingError ToLatin1 returns.
var ErrNotLatin1 = errors.New("pasrau: not encodable in ISO-8859-1")

// EncodingError reports the first place where a file cannot be converted to
// ISO-8859-1. Line and Column are 1-based; Column counts characters.
type EncodingError struct {
	Line   int
	Column int
	Reason string
}

// Error returns "pasrau: line L, column C: reason".
func (e *EncodingError) Error() string {
	return fmt.Sprintf("pasrau: to ISO-8859-1: line %d, column %d: %s", e.Line, e.Column, e.Reason)
}

// ToLatin1 returns file converted to ISO-8859-1, the encoding a deposit must
// use. A Latin1 file is returned as is (not copied). A UTF8 file loses its
// byte order mark, if any, and keeps its line ends.
//
// It returns an *EncodingError naming the line and column of the first
// invalid UTF-8 sequence or of the first character outside ISO-8859-1 (such
// as '€' or 'œ'), and an error for an unknown Encoding.
func ToLatin1(file []byte, enc Encoding) ([]byte, error) {
	switch enc {
	case Latin1:
		return file, nil
	case UTF8:
	default:
		return nil, fmt.Errorf("pasrau: to ISO-8859-1: unknown encoding %v", enc)
	}
	file = trimBOM(file)
	out := make([]byte, 0, len(file))
	line, col := 1, 1
	for i := 0; i < len(file); {
		b := file[i]
		if b < utf8.RuneSelf {
			out = append(out, b)
			i++
			if b == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
			continue
		}
		r, size := utf8.DecodeRune(file[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return nil, &EncodingError{Line: line, Column: col, Reason: fmt.Sprintf("invalid UTF-8 byte 0x%02X", b)}
		case r > 0xFF:
			return nil, &EncodingError{Line: line, Column: col, Reason: fmt.Sprintf("character %q (U+%04X) is outside ISO-8859-1", r, r)}
		}
		out = append(out, byte(r)) //nolint:gosec // r <= 0xFF: checked just above
		i += size
		col++
	}
	return out, nil
}

// Is lets callers test errors.Is(err, ErrNotLatin1).
func (e *EncodingError) Is(target error) bool { return target == ErrNotLatin1 }

// utf8BOM is the UTF-8 byte order mark.
const utf8BOM = "\xEF\xBB\xBF"

// trimBOM drops a leading UTF-8 byte order mark.
func trimBOM(file []byte) []byte {
	if len(file) >= 3 && string(file[:3]) == utf8BOM {
		return file[3:]
	}
	return file
}
