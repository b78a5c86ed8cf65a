package simulator

import (
	"slices"
	"strings"
	"time"
)

// command is one command of a step, parsed and ready to run.
type command interface {
	run(s *sim) error
}

// op is one command of a step: its text, as the timeline shows it, and what
// it does.
type op struct {
	text string
	cmd  command
	// signedBy is the client whose access token the command carries when
	// the scenario has tokens on; "" for none.
	signedBy string
}

// parseOp parses one command of a Do list: it finds who gives it and its
// verb (verbs), and the verb parses the words after it.
func parseOp(line int, text string) (op, error) {
	w, err := words(text)
	if err != nil {
		return op{}, malformed(line, "%q: %v", text, err)
	}
	a := &args{line: line, text: text, words: w}
	if len(w) == 0 {
		return op{}, a.bad("empty command")
	}
	v, err := a.findVerb()
	if err != nil {
		return op{}, err
	}
	cmd, err := v.parse(a)
	if err != nil {
		return op{}, err
	}
	o := op{text: text, cmd: cmd}
	if v.by == byClient && !v.unsigned {
		o.signedBy = a.who
	}
	return o, nil
}

// args are the words of a command as its verb reads them.
type args struct {
	line  int    // of the step
	text  string // the command
	words []string
	verb  string   // the verb's word
	who   string   // the client that acts, or the outside number that calls
	rest  []string // the words after the verb, still to read
}

// bad is the error of a malformed command.
func (a *args) bad(format string, args ...any) error {
	return malformed(a.line, "%q: "+format, append([]any{a.text}, args...)...)
}

// findVerb finds who gives the command and its verb: "crash" (the
// operator), "far answer c1" (the far end), "far +33 6 00 00 00 01 dial 102"
// (an outside number), "alice dial 102" (a client).
func (a *args) findVerb() (*verb, error) {
	w := a.words
	if v, ok := lookupVerb(byOperator, w[0]); ok {
		a.verb, a.rest = w[0], w[1:]
		return v, nil
	}
	if w[0] == "far" {
		return a.findFarVerb()
	}
	if len(w) >= 2 {
		if v, ok := lookupVerb(byClient, w[1]); ok {
			a.who, a.verb, a.rest = w[0], w[1], w[2:]
			return v, nil
		}
	}
	return nil, a.bad("expected <client> <verb> …, crash, or far …")
}

func (a *args) findFarVerb() (*verb, error) {
	w := a.words
	if len(w) < 3 {
		return nil, a.bad("expected far <verb> <call> or far <number> dial <destination>")
	}
	// "far +33 6 00 00 00 01 dial 102": the number may have spaces.
	if k := slices.Index(w, "dial"); k >= 2 {
		v, _ := lookupVerb(byOutsideNumber, "dial")
		a.who, a.verb, a.rest = strings.Join(w[1:k], " "), "dial", w[k+1:]
		return v, nil
	}
	v, ok := lookupVerb(byFarEnd, w[1])
	if !ok {
		return nil, a.bad("unknown far-end action %q", w[1])
	}
	a.verb, a.rest = w[1], w[2:]
	return v, nil
}

// option is a "key value" pair a command may take, and where its value goes.
type option struct {
	key string
	set func(a *args, value string) error
}

// options reads the rest of the command as "key value" pairs, each one of
// allowed.
func (a *args) options(allowed ...option) error {
	for len(a.rest) > 0 {
		if len(a.rest) < 2 {
			return a.bad("%q needs a value", a.rest[0])
		}
		k, v := a.rest[0], a.rest[1]
		i := slices.IndexFunc(allowed, func(o option) bool { return o.key == k })
		if i < 0 {
			keys := make([]string, len(allowed))
			for j, o := range allowed {
				keys[j] = o.key
			}
			return a.bad("unknown option %q (%s)", k, strings.Join(keys, ", "))
		}
		if err := allowed[i].set(a, v); err != nil {
			return err
		}
		a.rest = a.rest[2:]
	}
	return nil
}

// textOption takes any word.
func textOption(key string, to *string) option {
	return option{key, func(_ *args, v string) error { *to = v; return nil }}
}

// listOption takes any word, and may be repeated.
func listOption(key string, to *[]string) option {
	return option{key, func(_ *args, v string) error { *to = append(*to, v); return nil }}
}

// labelOption is "as <label>": the label for what the command creates.
func labelOption(to *string) option {
	return option{"as", func(a *args, v string) error {
		if err := checkLabel(a.line, a.text, v); err != nil {
			return err
		}
		*to = v
		return nil
	}}
}

// durationOption takes a duration, not negative.
func durationOption(key string, to *time.Duration) option {
	return option{key, func(a *args, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return a.bad("%s %q is not a duration", key, v)
		}
		*to = d
		return nil
	}}
}

// checkLabel refuses a label with a dot or a slash: "t1.new" and
// "t1.consult" name the calls of transfer t1.
func checkLabel(line int, text, label string) error {
	if strings.ContainsAny(label, "./") {
		return malformed(line, "%q: label %q: a label has no '.' or '/' (t1.new names the new call of transfer t1)", text, label)
	}
	return nil
}

// words splits a command into words; "double quotes" keep spaces.
func words(s string) ([]string, error) {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, errUnclosedQuote
			}
			out = append(out, s[1:end+1])
			s = s[end+2:]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out, nil
}

type parseError string

func (e parseError) Error() string { return string(e) }

const errUnclosedQuote = parseError("unclosed quote")

// parseAt reads a step's time: "90s" from the start, "+2s" from now.
func parseAt(line int, s string) (d time.Duration, relative bool, err error) {
	s = strings.TrimSpace(s)
	relative = strings.HasPrefix(s, "+")
	d, err = time.ParseDuration(strings.TrimPrefix(s, "+"))
	if err != nil || d < 0 {
		return 0, false, malformed(line, "at %q: want a duration such as 90s, or +2s after the previous step", s)
	}
	return d, relative, nil
}
