function __chatctl_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __chatctl_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __chatctl_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __chatctl_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __chatctl_parse_tokens -S
    set -l unparsed_tokens (__chatctl_tokens -pc)
    switch $unparsed_tokens[1]
    case 'chatctl'
        __chatctl_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'user'
            __chatctl_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'list'
                __chatctl_parse_subcommand 0 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'phone=' 'status=' 'limit=' 'version' 'h/help'
            case 'show'
                __chatctl_parse_subcommand 1 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'version' 'h/help'
            case 'create'
                __chatctl_parse_subcommand 0 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'phone=' 'name=' 'version' 'h/help'
            case 'rename'
                __chatctl_parse_subcommand 2 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'version' 'h/help'
            case 'disable'
                __chatctl_parse_subcommand 1 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'version' 'h/help'
            case 'enable'
                __chatctl_parse_subcommand 1 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'version' 'h/help'
            case 'delete'
                __chatctl_parse_subcommand 1 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'yes' 'version' 'h/help'
            end
        case 'migrate'
            __chatctl_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'status'
                __chatctl_parse_subcommand 0 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'version' 'h/help'
            case 'up'
                __chatctl_parse_subcommand 0 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'dry-run' 'version' 'h/help'
            case 'add-userid'
                __chatctl_parse_subcommand 0 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'dry-run' 'version' 'h/help'
            end
        case 'token'
            __chatctl_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'mint'
                __chatctl_parse_subcommand 0 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'user=' 'ttl=' 'version' 'h/help'
            case 'inspect'
                __chatctl_parse_subcommand 1 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'version' 'h/help'
            case 'revoke'
                __chatctl_parse_subcommand 1 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'version' 'h/help'
            end
        case 'queue'
            __chatctl_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'list'
                __chatctl_parse_subcommand 0 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'prefix=' 'version' 'h/help'
            case 'show'
                __chatctl_parse_subcommand 1 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'user=' 'version' 'h/help'
            case 'peek'
                __chatctl_parse_subcommand 1 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'user=' 'count=' 'version' 'h/help'
            case 'purge'
                __chatctl_parse_subcommand 1 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'user=' 'yes' 'version' 'h/help'
            end
        case 'daemon'
            __chatctl_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'status'
                __chatctl_parse_subcommand 0 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'version' 'h/help'
            case 'connections'
                __chatctl_parse_subcommand 0 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'version' 'h/help'
            case 'kick'
                __chatctl_parse_subcommand 1 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'version' 'h/help'
            case 'drain'
                __chatctl_parse_subcommand 0 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'version' 'h/help'
            case 'reload'
                __chatctl_parse_subcommand 0 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'version' 'h/help'
            case 'log-level'
                __chatctl_parse_subcommand 1 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'version' 'h/help'
            case 'stop'
                __chatctl_parse_subcommand 0 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'version' 'h/help'
            end
        case 'config'
            __chatctl_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'check'
                __chatctl_parse_subcommand 0 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'version' 'h/help'
            case 'default'
                __chatctl_parse_subcommand 0 'config=' 'store=' 'socket=' 'create-store' 'json' 'v/verbose' 'version' 'h/help'
            end
        case 'help'
            __chatctl_parse_subcommand -r 1 'version'
        end
    end
end

function __chatctl_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __chatctl_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __chatctl_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __chatctl_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__chatctl_tokens -p)
    if test -z "$(__chatctl_tokens -t)"
        set -l index (count (__chatctl_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'chatctl' -f
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl" -eq 1' -fa 'user' -d 'List, show, create, rename, disable, enable and delete users.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl" -eq 1' -fa 'migrate' -d 'Show and apply the store\'s recorded migrations.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl" -eq 1' -fa 'token' -d 'Mint, inspect and revoke JWTs exactly as chatd issues and checks them.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl" -eq 1' -fa 'queue' -d 'Inspect users\' update queues through the RabbitMQ management API.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl" -eq 1' -fa 'daemon' -d 'Talk to the running chatd over its control socket.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl" -eq 1' -fa 'config' -d 'Validate and show chatd\'s configuration.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl user" -eq 1' -fa 'list' -d 'List users.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl user" -eq 1' -fa 'show' -d 'Show one user by userId or phone.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl user" -eq 1' -fa 'create' -d 'Create a user (also registered in Chat3 when reachable).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl user" -eq 1' -fa 'rename' -d 'Change a user\'s display name (and make sure Chat3 knows the user).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl user" -eq 1' -fa 'disable' -d 'Disable a user: no login, tokens refused, and a running chatd closes their sockets.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl user" -eq 1' -fa 'enable' -d 'Enable a disabled user.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl user" -eq 1' -fa 'delete' -d 'Delete a user; a running chatd closes their sockets.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user list" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user list" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user list" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user list" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user list" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user list" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user list" phone' -l 'phone' -d 'Only phones starting with these digits.' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user list" status' -l 'status' -d 'Only users with this status (active or disabled).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user list" limit' -l 'limit' -d 'At most this many users.' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user list" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user show" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user show" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user show" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user show" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user show" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user show" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user show" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user show" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user create" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user create" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user create" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user create" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user create" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user create" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user create" phone' -l 'phone' -d 'Phone number, e.g. 79001234567 or "+7 (900) 123-45-67".' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user create" name' -l 'name' -d 'Display name, 1 to 100 characters.' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user create" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user create" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user rename" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user rename" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user rename" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user rename" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user rename" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user rename" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user rename" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user rename" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user disable" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user disable" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user disable" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user disable" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user disable" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user disable" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user disable" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user disable" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user enable" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user enable" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user enable" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user enable" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user enable" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user enable" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user enable" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user enable" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user delete" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user delete" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user delete" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user delete" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user delete" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user delete" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user delete" yes' -l 'yes' -d 'Do not ask for confirmation.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user delete" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl user delete" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl migrate" -eq 1' -fa 'status' -d 'List migrations and whether each is applied.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl migrate" -eq 1' -fa 'up' -d 'Apply every pending migration, in order.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl migrate" -eq 1' -fa 'add-userid' -d 'Give every user without a userId a fresh unique usr_XXXXXXXX (safe to re-run).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate status" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate status" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate status" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate status" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate status" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate status" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate status" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate status" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate up" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate up" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate up" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate up" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate up" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate up" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate up" dry-run' -l 'dry-run' -d 'Report what would change without changing anything.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate up" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate up" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate add-userid" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate add-userid" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate add-userid" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate add-userid" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate add-userid" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate add-userid" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate add-userid" dry-run' -l 'dry-run' -d 'Report how many users would change without changing anything.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate add-userid" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl migrate add-userid" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl token" -eq 1' -fa 'mint' -d 'Issue a token for a user.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl token" -eq 1' -fa 'inspect' -d 'Show a token\'s claims, whether chatd would accept it, and why not.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl token" -eq 1' -fa 'revoke' -d 'Revoke a token until it expires.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token mint" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token mint" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token mint" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token mint" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token mint" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token mint" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token mint" user' -l 'user' -d 'The userId (usr_…).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token mint" ttl' -l 'ttl' -d 'Lifetime, e.g. 48h, 30m (default: jwt.expires_in).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token mint" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token mint" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token inspect" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token inspect" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token inspect" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token inspect" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token inspect" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token inspect" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token inspect" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token inspect" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token revoke" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token revoke" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token revoke" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token revoke" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token revoke" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token revoke" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token revoke" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl token revoke" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl queue" -eq 1' -fa 'list' -d 'List queues with ready and unacknowledged messages and consumers.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl queue" -eq 1' -fa 'show' -d 'Show one queue: counters, arguments and bindings.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl queue" -eq 1' -fa 'peek' -d 'Show messages at the head of a queue without consuming them.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl queue" -eq 1' -fa 'purge' -d 'Drop every ready message of a queue (asks unless --yes).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue list" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue list" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue list" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue list" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue list" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue list" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue list" prefix' -l 'prefix' -d 'Only queues whose name starts with this.' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue list" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue show" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue show" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue show" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue show" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue show" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue show" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue show" user' -l 'user' -d 'A userId (usr_…): the user\'s update queue, named by rabbitmq.queue_template.' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue show" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue show" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue peek" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue peek" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue peek" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue peek" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue peek" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue peek" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue peek" user' -l 'user' -d 'A userId (usr_…): the user\'s update queue, named by rabbitmq.queue_template.' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue peek" count' -l 'count' -d 'At most this many messages.' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue peek" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue peek" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue purge" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue purge" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue purge" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue purge" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue purge" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue purge" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue purge" user' -l 'user' -d 'A userId (usr_…): the user\'s update queue, named by rabbitmq.queue_template.' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue purge" yes' -l 'yes' -d 'Do not ask for confirmation.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue purge" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl queue purge" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl daemon" -eq 1' -fa 'status' -d 'Show version, uptime, connections, subscriptions and dependency state.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl daemon" -eq 1' -fa 'connections' -d 'List connected users with their socket count and joined dialogs.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl daemon" -eq 1' -fa 'kick' -d 'Disconnect every socket of a user (the client is told not to reconnect).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl daemon" -eq 1' -fa 'drain' -d 'Refuse new sockets and close existing ones so clients reconnect to another instance.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl daemon" -eq 1' -fa 'reload' -d 'Re-read the configuration, like SIGHUP; an invalid one is refused and the running one kept.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl daemon" -eq 1' -fa 'log-level' -d 'Change chatd\'s log level now, without a restart (until the next reload).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl daemon" -eq 1' -fa 'stop' -d 'Stop chatd gracefully: close sockets, finish requests, exit (as SIGTERM does).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon status" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon status" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon status" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon status" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon status" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon status" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon status" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon status" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon connections" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon connections" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon connections" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon connections" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon connections" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon connections" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon connections" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon connections" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon kick" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon kick" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon kick" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon kick" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon kick" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon kick" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon kick" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon kick" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon drain" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon drain" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon drain" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon drain" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon drain" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon drain" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon drain" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon drain" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon reload" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon reload" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon reload" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon reload" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon reload" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon reload" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon reload" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon reload" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon log-level" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon log-level" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon log-level" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon log-level" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon log-level" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon log-level" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl daemon log-level" -eq 1' -fka 'trace debug info notice warning error critical'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon log-level" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon log-level" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon stop" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon stop" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon stop" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon stop" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon stop" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon stop" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon stop" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl daemon stop" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl config" -eq 1' -fa 'check' -d 'Validate the config file and environment exactly as chatd would.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_positional "chatctl config" -eq 1' -fa 'default' -d 'Print a commented example config file with every key and its default.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config check" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config check" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config check" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config check" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config check" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config check" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config check" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config check" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config default" config' -l 'config' -d 'Config file (same as chatd\'s; default /etc/chatd/chatd.toml).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config default" store' -l 'store' -d 'Store URL: sqlite:///path or mongodb://host/db (or CHATD_STORE).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config default" socket' -l 'socket' -d 'Control socket of a running chatd (or CHATD_CONTROL_SOCKET).' -rfka ''
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config default" create-store' -l 'create-store' -d 'Create the SQLite store when it does not exist (chatd creates it on its first start).'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config default" json' -l 'json' -d 'Print results as JSON.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config default" v verbose' -l 'verbose' -s 'v' -d 'Log more on stderr.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config default" version' -l 'version' -d 'Show the version.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl config default" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'chatctl' -n '__chatctl_should_offer_completions_for_flags_or_options "chatctl help" version' -l 'version' -d 'Show the version.'
