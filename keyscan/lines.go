package keyscan

import (
	"bufio"
	"errors"
	"io"
)

// pieceSize is the most of one line held in memory at a time. Lines longer
// than this (minified files, data blobs) are read in pieces rather than
// rejected, as bufio.Scanner would.
const pieceSize = 64 << 10

// eachLinePiece calls fn with each line of r in pieces of at most pieceSize
// bytes, without the line's '\n'. start is true for the first piece of a
// line and end for the last; a short line is one piece with both set.
func eachLinePiece(r *bufio.Reader, fn func(piece []byte, start, end bool) error) error {
	start := true
	for {
		piece, err := r.ReadSlice('\n')
		switch {
		case err == nil:
			if ferr := fn(piece[:len(piece)-1], start, true); ferr != nil {
				return ferr
			}
			start = true
		case errors.Is(err, bufio.ErrBufferFull):
			if ferr := fn(piece, start, false); ferr != nil {
				return ferr
			}
			start = false
		case errors.Is(err, io.EOF):
			// A last line without '\n', or the end of a long line whose
			// pieces filled the buffer exactly.
			if len(piece) > 0 || !start {
				return fn(piece, start, true)
			}
			return nil
		default:
			return err
		}
	}
}

// lineMatcher finds credentials in one line fed to it in pieces. It keeps
// the last bytes of each piece, as many as the longest credential less
// one, so that a credential split between pieces is found whole.
type lineMatcher struct {
	s   *Scanner
	buf []byte
}

// feed scans the next piece of the current line and calls found for each
// credential that ends in it: one that ended in the kept bytes was found
// with the previous piece.
func (m *lineMatcher) feed(piece []byte, found func(p *Pattern, secret string)) {
	kept := len(m.buf)
	m.buf = append(m.buf, piece...)
	for i := range m.s.patterns {
		p := &m.s.patterns[i]
		for _, loc := range p.Regexp.FindAllIndex(m.buf, -1) {
			if loc[1] <= kept {
				continue
			}
			if secret := string(m.buf[loc[0]:loc[1]]); p.Check(secret) {
				found(p, secret)
			}
		}
	}
	if len(m.buf) > m.s.keep {
		m.buf = m.buf[:copy(m.buf, m.buf[len(m.buf)-m.s.keep:])]
	}
}

// endLine forgets the kept bytes: credentials do not span lines.
func (m *lineMatcher) endLine() { m.buf = m.buf[:0] }
