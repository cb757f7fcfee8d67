# Attack corpus (tests/attacks): the harness appends its per-backend table
# (contained / known gaps / failures) to this file; it is printed at the end
# of the run so CI logs show the corpus's state even when go test passes.
# Needs only python3 and bash, which 00-apt.sh installs.
SANDRUN_ATTACK_REPORT="$(mktemp -t sandrun-corpus-report.XXXXXX)"
export SANDRUN_ATTACK_REPORT
on_exit "echo '== attack corpus report'; cat '$SANDRUN_ATTACK_REPORT'; rm -f '$SANDRUN_ATTACK_REPORT'"
